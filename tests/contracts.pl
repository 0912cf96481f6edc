#!/usr/bin/perl
# contracts.pl SOURCE_DIR NAMES - part 4 of tests/man.sh: the header's
# comment of each public call is its contract, and the man page and
# docs/errors.md must say the same.  NAMES is the file of public names
# that man.sh collected.  For each header of include/umn/ and each public
# function declared in it (UMN_API, static inline, function-like macro),
# the errnos of a function are the -E... of the comment just above its
# declaration, from its "Return:" on (a comment without one promises none;
# "Return: as umn_other()" promises umn_other's; a declaration with no
# comment of its own shares the one above it; a call that does not return
# int promises none).
# Checked:
#  a. every errno that the ERRORS section of the function's page gives it
#     (an item with a clause "umn_f():" for it, or with no such clause for
#     any function of the page) is
#     one its header lists, and every errno its header lists is given to
#     it by the page;
#  b. every public function is named in docs/errors.md, and the errnos of
#     its rows there (a table row whose first cell names it, with the rows
#     below it that leave that cell empty) are the header's, no more, no
#     fewer; a function whose header lists none may be named in the prose;
#  c. every UMN_ constant of a header (#define or enum value, not UMN__
#     nor the include guard) appears in the header's page.
# Prints one line per failure, "man: ...", and last "checks N failures M";
# exits with 3 (an oracle's verdict, tests/expect-status.sh) when a check
# failed.  tests/contracts-break.sh plants a disagreement of each kind in
# a copy of the tree and expects this verdict.
use strict;
use warnings;

my ($src, $names_file) = @ARGV;
my $checks = 0;
my $failures = 0;

sub check {
	my ($ok, $msg) = @_;
	$checks++;
	return if $ok;
	$failures++;
	print "man: $msg\n";
}

sub slurp {
	my ($f) = @_;
	open(my $fh, '<', $f) or die "$f: $!";
	local $/;
	return <$fh>;
}

sub errnos {
	my ($text) = @_;
	my %e = map { $_ => 1 } $text =~ /-(E[A-Z0-9]{2,})\b/g;
	return \%e;
}

# A comment's errnos: those from its "Return:" on; a comment without one
# promises none.
sub returns {
	my ($comment) = @_;
	my $r = $comment =~ /\bReturn:(.*)/s ? $1 : '';
	return $r =~ /^\s*as (umn_\w+)\(\)/ ? $1 : errnos($r);
}

sub list {
	return join(', ', sort keys %{ $_[0] }) || 'none';
}

my %public = map { chomp; $_ => 1 } do {
	open(my $fh, '<', $names_file) or die "$names_file: $!";
	<$fh>;
};

# The functions of each header, with the errnos of their comments, and its
# constants.
my (%header_of, %errs, %consts);
for my $h (glob("$src/include/umn/*.h")) {
	my ($base) = $h =~ m{/(\w+)\.h$};
	my $text = slurp($h);
	# C++'s extern "C" braces hold everything: not a nesting.
	$text =~ s/^#ifdef __cplusplus\n(?:extern "C" \{|\})\n#endif$//mg;
	my ($depth, $comment, $last, $fn_stmt) = (0, undef, undef, 0);
	pos($text) = 0;
	while (pos($text) < length($text)) {
		if ($text =~ /\G(\/\*.*?\*\/)/gcs) {
			$comment = $1 if $depth == 0;
		} elsif ($text =~ /\G\/\/[^\n]*/gc) {
		} elsif ($text =~ /\G^[ \t]*#[ \t]*define[ \t]+(\w+)(\(?)((?:[^\n]*\\\n)*[^\n]*)/gcm) {
			my ($name, $paren) = ($1, $2);
			if ($name =~ /^umn_[a-z0-9]/ && $paren && $public{$name}) {
				$header_of{$name} = $base;
				$errs{$name} = returns($comment // $last // '');
				$last = $comment // $last;
				$comment = undef;
			} elsif ($name =~ /^UMN_[A-Z0-9]/ && $name !~ /_H$/ &&
				 $name ne 'UMN_API') {
				$consts{$base}{$name} = 1;
			}
		} elsif ($text =~ /\G^[ \t]*#(?:[^\n]*\\\n)*[^\n]*/gcm) {
		} elsif ($depth == 0 &&
			 $text =~ /\G((?:UMN_API|static\s+inline)\b[^;{(]*?\b(umn_[a-z0-9]\w*)\s*\()/gc) {
			my ($decl, $name) = ($1, $2);
			$fn_stmt = 1;
			if ($public{$name}) {
				$header_of{$name} = $base;
				# Only a call that returns int returns errnos.
				$errs{$name} = $decl =~ /\bint\s*$name/ ?
					returns($comment // $last // '') : {};
				$last = $comment // $last;
			}
			$comment = undef;
		} elsif ($text =~ /\Genum\b[^{;]*\{([^}]*)\}/gc) {
			my $body = $1;
			$body =~ s{/\*.*?\*/}{}gs;
			$consts{$base}{$1} = 1
				while $body =~ /\b(UMN_[A-Z0-9]\w*)\b/g;
		} elsif ($text =~ /\G\{/gc) {
			$depth++;
		} elsif ($text =~ /\G\}/gc) {
			$depth--;
			$comment = undef if $depth == 0;
		} elsif ($text =~ /\G;/gc) {
			if ($depth == 0) {
				$comment = undef;
				$last = undef unless $fn_stmt;
				$fn_stmt = 0;
			}
		} else {
			$text =~ /\G(?:\w+|[ \t]+|\n|.)/gcs;
		}
	}
}
# "Return: as umn_other()".
for my $f (keys %errs) {
	$errs{$f} = $errs{ $errs{$f} } // {} unless ref $errs{$f};
}
# A run of declarations under one comment shares it; a declaration after a
# top-level ";" that has no comment of its own has none (above).
check(scalar(keys %header_of) > 0, "found no public function in a header");

# The man pages of section 3: the header each documents, its names, and
# what its ERRORS section gives each name.
my %page_of_header;
for my $p (glob("$src/man/man3/*.3")) {
	my $text = slurp($p);
	my ($page) = $p =~ m{/([^/]+)$};
	my ($hdr) = $text =~ /^\.B #include <umn\/(\w+)\.h>$/m or next;
	$page_of_header{$hdr} = { file => $page, text => $text };
}

for my $hdr (sort keys %page_of_header) {
	my $page = $page_of_header{$hdr}{file};
	my $text = $page_of_header{$hdr}{text};
	my @fns = grep { $header_of{$_} eq $hdr } sort keys %header_of;
	my %mine = map { $_ => 1 } @fns;
	my ($errors) = $text =~ /^\.SH ERRORS\n(.*?)(?=^\.SH |\z)/ms;
	$errors //= '';
	# Items: a .TP whose tag names errnos, or a .PP paragraph.
	my (%given, %generic);
	for my $item (split /^\.(?=TP|PP|IP)/m, $errors) {
		my %e;
		if ($item =~ /^TP\n([^\n]*)\n(.*)/s) {
			my ($tag, $body) = ($1, $2);
			%e = map { $_ => 1 } $tag =~ /\b(E[A-Z0-9]{2,})\b/g;
			$item = $body;
		} else {
			%e = map { $_ => 1 }
				$item =~ /^\.BR? (E[A-Z0-9]{2,})\b/mg;
		}
		next unless %e;
		# The functions an item is about: those of a line that
		# ends with "():", as ".BR umn_a "(), " umn_b ():".
		my %named = map { $_ => 1 } grep { $mine{$_} }
			map { /\b(umn_[a-z0-9]\w*)/g }
			$item =~ /^(\.BR? .*\(\):)\s*$/mg;
		for my $e (keys %e) {
			if (!%named) {
				$generic{$e} = 1;
				check(scalar(grep { $errs{$_}{$e} } @fns),
				      "man3/$page: ERRORS gives $e to no function " .
				      "in particular, and no header comment of " .
				      "umn/$hdr.h lists -$e");
			}
			for my $f (sort keys %named) {
				$given{$f}{$e} = 1;
				check($errs{$f}{$e},
				      "man3/$page: ERRORS gives $e to $f, " .
				      "which its comment in umn/$hdr.h does not " .
				      "list (it lists " . list($errs{$f}) . ")");
			}
		}
	}
	for my $f (@fns) {
		for my $e (sort keys %{ $errs{$f} }) {
			check($given{$f}{$e} || $generic{$e},
			      "man3/$page: $f returns -$e (umn/$hdr.h), but " .
			      "ERRORS does not say so");
		}
	}
	# c. The constants.
	my $plain = $text;
	$plain =~ s/\\-/-/g;
	$plain =~ s/\\[fs][BIRP0-9]?//g;
	for my $c (sort keys %{ $consts{$hdr} // {} }) {
		check(scalar($plain =~ /\b\Q$c\E\b/),
		      "man3/$page does not name $c of umn/$hdr.h");
	}
}
for my $hdr (sort keys %consts) {
	check($page_of_header{$hdr},
	      "umn/$hdr.h defines constants but no page of section 3 " .
	      "includes it in its SYNOPSIS");
}

# b. docs/errors.md.
my $md = slurp("$src/docs/errors.md");
my (%rows, %mentioned);
# The umn_ names of a text: backticked, or "_suffix" for the name before
# it with its last words replaced.
sub names_in {
	my ($text) = @_;
	my (@out, $prev);
	for my $n ($text =~ /`([A-Za-z_]\w*)`/g) {
		if ($n =~ /^_/) {
			next unless $prev;
			my @parts = split /_/, $prev;
			for my $k (reverse 1 .. $#parts) {
				my $full = join('_', @parts[0 .. $k - 1]) . $n;
				if ($public{$full}) {
					push @out, $full;
					last;
				}
			}
		} else {
			push @out, $n if $n =~ /^umn_/;
			$prev = $n;
		}
	}
	return @out;
}
my @current;
for my $para (split /\n\s*\n/, $md) {
	$mentioned{$_} = 1 for names_in($para);
	for my $line (split /\n/, $para) {
		next unless $line =~ /^\|(.*)\|\s*$/;
		my @cells = split /\|/, $1;
		next if @cells < 2 || $cells[0] =~ /^\s*-+\s*$/ ||
			$cells[0] =~ /^\s*function\s*$/;
		@current = names_in($cells[0]) if $cells[0] =~ /\S/;
		for my $f (@current) {
			$rows{$f} //= {};
			$rows{$f}{$_} = 1 for keys %{ errnos($cells[1]) };
		}
	}
}
for my $f (sort keys %header_of) {
	check($mentioned{$f},
	      "docs/errors.md does not name $f (umn/$header_of{$f}.h)");
	next unless $mentioned{$f};
	if (!$rows{$f}) {
		check(!%{ $errs{$f} },
		      "docs/errors.md has no row for $f, whose comment in " .
		      "umn/$header_of{$f}.h lists " . list($errs{$f}));
		next;
	}
	for my $e (sort keys %{ $rows{$f} }) {
		check($errs{$f}{$e},
		      "docs/errors.md: $f returns -$e, which its comment in " .
		      "umn/$header_of{$f}.h does not list (it lists " .
		      list($errs{$f}) . ")");
	}
	for my $e (sort keys %{ $errs{$f} }) {
		check($rows{$f}{$e},
		      "docs/errors.md has no row for -$e of $f " .
		      "(umn/$header_of{$f}.h lists it)");
	}
}
print "checks $checks failures $failures\n";
exit($failures ? 3 : 0);
