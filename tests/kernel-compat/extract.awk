# extract.awk -v names="a b c" FILE - print the top-level definitions of
# FILE that define one of the names, in the file's order, unchanged.
# A definition starts at the column-0 line where the name is followed by
# "(" (a function) or " =" (a table), and the line before it if that holds
# the return type; it ends at the next column-0 "}" or "};".  Prototypes
# (a head that reaches ";" before "{") are not definitions.  Only a name's
# first definition is taken (the one under #ifdef CONFIG_..., where an
# #else branch defines a stub after it).
BEGIN {
	n = split(names, list, " ")
	for (i = 1; i <= n; i++)
		want[list[i]] = 1
}
function defines(line,    name, j) {
	for (name in want) {
		if (name in found)
			continue
		if (line ~ ("(^|[ *])" name "\\("))
			return name
		if (line ~ ("(^|[ *])" name " = *\\{"))
			return name
	}
	return ""
}
{
	if (inside) {
		print
		if ($0 ~ /^}/)
			inside = 0
		next
	}
	if (pending != "") {
		# A candidate's head: a prototype ends with ";" before any "{".
		buf = buf "\n" $0
		if ($0 ~ /\{[ \t]*$/ || $0 ~ /^\{/) {
			print buf
			found[pending] = 1
			pending = ""
			inside = 1
		} else if ($0 ~ /;[ \t]*$/)
			pending = ""
		prev = $0
		next
	}
	if ($0 ~ /^[a-zA-Z_]/ && (name = defines($0)) != "") {
		buf = ""
		if (prev ~ /^[a-zA-Z_]/ && prev !~ /[;}]$/ && prev !~ /\*\/$/ &&
		    $0 !~ /^(static|const|int|void|bool|struct|unsigned)/)
			buf = prev "\n"
		buf = buf $0
		if ($0 ~ /\{[ \t]*$/) {
			print buf
			found[name] = 1
			inside = ($0 !~ /};$/)
		} else if ($0 !~ /;[ \t]*$/)
			pending = name
	}
	prev = $0
}
END {
	for (name in want)
		if (!(name in found)) {
			print "extract.awk: " FILENAME ": no definition of " \
				name > "/dev/stderr"
			bad = 1
		}
	exit bad
}
