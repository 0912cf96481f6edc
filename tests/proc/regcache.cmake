# The registration cache over the process itself: the pagemap
# oracle per event class, the stress, the deliberate breaks that the oracle
# must catch, fork, signals and recursion.  77 means "cannot run here"
# (no PFNs, no such source), with the reason printed.
add_executable(umn-proc-regcache
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_main.c
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_pin.c
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_oracle.c
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_stress.c
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_safety.c
	${CMAKE_CURRENT_SOURCE_DIR}/regcache_race.c
	${CMAKE_CURRENT_SOURCE_DIR}/ucx_rcache.c)
target_link_libraries(umn-proc-regcache PRIVATE umn_static ${CMAKE_DL_LIBS})
# UCX's rcache, the stress's second cache (--cache ucx; Debian:
# libucx-dev): its headers only, libucs is loaded with dlopen() by that
# test alone.  Without them, proc-regcache-stress-ucx skips.
find_path(UMN_TEST_UCM_INCLUDE_DIR ucm/api/ucm.h)
find_library(UMN_TEST_UCS_LIBRARY ucs)
if(UMN_TEST_UCM_INCLUDE_DIR AND UMN_TEST_UCS_LIBRARY)
	target_include_directories(umn-proc-regcache SYSTEM PRIVATE
				   ${UMN_TEST_UCM_INCLUDE_DIR})
	target_compile_definitions(umn-proc-regcache PRIVATE
				   UMN_TEST_UCS_LIB="${UMN_TEST_UCS_LIBRARY}")
endif()

function(umn_proc_regcache_test name)
	add_test(NAME proc-regcache-${name}
		COMMAND umn-proc-regcache ${ARGN})
	set_tests_properties(proc-regcache-${name} PROPERTIES
		SKIP_RETURN_CODE 77 TIMEOUT 120
		ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/tsan.supp")
endfunction()

# The stresses share their seed, threads and seconds, so that umn's
# (no stale hit allowed) and UCX's (stale hits counted, not failed) are
# comparable.
set(UMN_STRESS_ARGS --seconds 3 --threads 3 --seed 1)
foreach(src hooks uffd all)
	umn_proc_regcache_test(oracle-${src} oracle --sources ${src})
	umn_proc_regcache_test(stress-${src} stress --sources ${src}
		${UMN_STRESS_ARGS})
	umn_proc_regcache_test(recursion-${src} recursion --sources ${src})
endforeach()
umn_proc_regcache_test(stress-ucx stress --cache ucx ${UMN_STRESS_ARGS})
# The race on real memory (regcache_race.c), as make demo shows it: umn's
# cache must serve no unmapped memory under the hooks (alone or with
# userfaultfd; userfaultfd alone hears an unmap after the fact, and its
# window is the stress's to measure); UCX's stale hits are printed.
foreach(src hooks all)
	umn_proc_regcache_test(race-${src} race --sources ${src} --seconds 2)
endforeach()
umn_proc_regcache_test(race-ucx race --cache ucx --seconds 2)
# The oracle can fail: each deliberate break must be caught, and the test
# then exits with the oracle's status (3) after the oracle's message.
function(umn_proc_regcache_break name regex)
	add_test(NAME proc-regcache-${name}
		COMMAND ${CMAKE_SOURCE_DIR}/tests/expect-status.sh
			${UMN_ORACLE_STATUS} -m "${regex}"
			$<TARGET_FILE:umn-proc-regcache> ${name} ${ARGN})
	set_tests_properties(proc-regcache-${name} PROPERTIES
		SKIP_RETURN_CODE 77 TIMEOUT 120
		ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/tsan.supp")
endfunction()
umn_proc_regcache_break(break-retry "the oracle found [1-9][0-9]* stale"
	--sources hooks)
umn_proc_regcache_break(break-stop "STALE: [1-9][0-9]* hits"
	--sources all --seconds 2)
umn_proc_regcache_break(race-break "STALE: [1-9][0-9]* of"
	--sources hooks --seconds 2)
# userfaultfd registers again a range replaced under a live interval
# notifier (it prints no Check line).
umn_proc_regcache_test(uffd-replaced-range uffd-replaced-range)
umn_proc_regcache_test(fork fork --sources all)
umn_proc_regcache_test(signal signal --sources all)
umn_proc_regcache_test(signal-regcache signal-regcache --sources all)
