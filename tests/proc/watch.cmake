# umn-watch and the event classes (tests/proc/watch-events.sh): each class
# of tests/proc/events.c under umn-watch, with each set of sources, and
# the allocator classes under the allocators Debian packages.

add_library(umn-proc-events-dso MODULE events-dso.c)
add_executable(umn-proc-events events.c)
# The shared libumn: the program and the preloaded libumn-watch.so must
# share one process primary.
target_link_libraries(umn-proc-events PRIVATE umn ${CMAKE_DL_LIBS})
target_compile_definitions(umn-proc-events PRIVATE
	EVENTS_DSO="$<TARGET_FILE:umn-proc-events-dso>")
add_dependencies(umn-proc-events umn-proc-events-dso)

# Sanitizer builds: the program links libumn-watch.so instead of having it
# preloaded (see watch-events.sh).
if(NOT UMN_SANITIZE STREQUAL "")
	add_executable(umn-proc-events-linked events.c)
	target_link_libraries(umn-proc-events-linked PRIVATE
		umn-watch-preload umn ${CMAKE_DL_LIBS})
	target_compile_definitions(umn-proc-events-linked PRIVATE
		EVENTS_DSO="$<TARGET_FILE:umn-proc-events-dso>")
	# The linker must keep the library nobody calls.
	target_link_options(umn-proc-events-linked PRIVATE
		-Wl,--no-as-needed)
	add_dependencies(umn-proc-events-linked umn-proc-events-dso)
endif()

set(UMN_WATCH_SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/watch-events.sh)
set(UMN_WATCH_ARGS $<TARGET_FILE:umn-watch> $<TARGET_FILE:umn-proc-events>
	"${UMN_SANITIZE}")
# The negative test: with no source on, every must-see check must fail;
# the script then exits with the oracle's status (3) and says so.
set(UMN_WATCH_none ${CMAKE_SOURCE_DIR}/tests/expect-status.sh
	${UMN_ORACLE_STATUS}
	-m "^negative test: all [0-9]+ must-see checks failed")
foreach(run hooks uffd hooks,uffd jemalloc mimalloc tcmalloc none)
	string(REPLACE "," "-" name "${run}")
	add_test(NAME watch-${name}
		COMMAND ${UMN_WATCH_${run}} ${UMN_WATCH_SCRIPT} ${run}
			${UMN_WATCH_ARGS})
	# TSan would sleep a second at each exit while umn's threads run.
	set_tests_properties(watch-${name} PROPERTIES
		TIMEOUT 120 SKIP_RETURN_CODE 77
		ENVIRONMENT "TSAN_OPTIONS=atexit_sleep_ms=0:suppressions=${CMAKE_CURRENT_SOURCE_DIR}/../tsan.supp")
endforeach()
# umn-watch against strace (tests/proc/watch-strace.sh): every call that
# drops or replaces pages that strace sees the watched programs make must
# be in umn-watch's report, once, with its range.  The oracle is
# watch-strace-match; the program of many raw calls is built static (only
# the supervisor can see it) and dynamic.
add_executable(umn-watch-strace-match watch-strace-match.c)
add_executable(umn-watch-strace-prog watch-strace-prog.c)
target_link_libraries(umn-watch-strace-prog PRIVATE Threads::Threads)
set(UMN_WATCH_STRACE_ARGS $<TARGET_FILE:umn-watch>
	$<TARGET_FILE:umn-watch-strace-match>
	$<TARGET_FILE:umn-watch-strace-prog>)
if(UMN_SANITIZE STREQUAL "")
	# A sanitizer's runtime cannot be linked statically.
	add_executable(umn-watch-strace-static watch-strace-prog.c)
	target_link_libraries(umn-watch-strace-static PRIVATE
		Threads::Threads)
	target_link_options(umn-watch-strace-static PRIVATE -static)
	list(APPEND UMN_WATCH_STRACE_ARGS
		$<TARGET_FILE:umn-watch-strace-static>)
else()
	list(APPEND UMN_WATCH_STRACE_ARGS -)
endif()
add_test(NAME watch-strace
	COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/watch-strace.sh
		${UMN_WATCH_STRACE_ARGS} "${UMN_SANITIZE}")
set_tests_properties(watch-strace PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
