# The process as primary MMU: its own runner, since the tests patch libc in
# their process (Check forks each test, so each starts unpatched).
add_executable(umn-proc-tests
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc.c
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc_calls.c
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc_fast_path.c
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc_reentry.c
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc_uffd.c
	${CMAKE_CURRENT_SOURCE_DIR}/proc_recorder.c
	${CMAKE_CURRENT_SOURCE_DIR}/check_signals.c
	${CMAKE_CURRENT_SOURCE_DIR}/../sleepcheck.c)
target_link_libraries(umn-proc-tests PRIVATE umn_static PkgConfig::CHECK)
target_link_options(umn-proc-tests PRIVATE ${UMN_WRAP_FLAGS} -Wl,--wrap=syscall)
# One entry per case of check_proc.c (its tests are in the files above):
# "proc" runs everywhere; a case that needs what is not here (userfaultfd,
# MADV_GUARD_INSTALL, a build that is not TSan) prints "skipped: " and the
# reason and exits 77, so that the count shows it skipped
# (tests/summary.sh), never passed.
foreach(case proc threads-exit uffd guard signals signals-uffd)
	if(case STREQUAL "proc")
		set(name proc)
	else()
		set(name proc-${case})
	endif()
	add_test(NAME ${name} COMMAND umn-proc-tests ${case})
	set_tests_properties(${name} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
		ENVIRONMENT "CK_TIMEOUT_MULTIPLIER=4;TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/../tsan.supp")
endforeach()

# A process whose every thread left liburcu-bp's registry exits (the exit
# handler of primaries/proc/proc.c): with liburcu-bp as a shared library,
# and linked into the program (destructors in link order), where Debian
# ships its archive.
add_executable(umn-proc-exit-unregistered
	${CMAKE_CURRENT_SOURCE_DIR}/exit_unregistered.c)
target_link_libraries(umn-proc-exit-unregistered PRIVATE umn_static)
add_test(NAME proc-exit-unregistered COMMAND umn-proc-exit-unregistered)
find_library(UMN_TEST_URCU_BP_ARCHIVE liburcu-bp.a)
find_library(UMN_TEST_URCU_COMMON_ARCHIVE liburcu-common.a)
set(umn_exit_tests proc-exit-unregistered)
if(UMN_TEST_URCU_BP_ARCHIVE AND UMN_TEST_URCU_COMMON_ARCHIVE)
	add_executable(umn-proc-exit-unregistered-static
		${CMAKE_CURRENT_SOURCE_DIR}/exit_unregistered.c
		$<TARGET_OBJECTS:umn_objects>)
	target_include_directories(umn-proc-exit-unregistered-static PRIVATE
		${CMAKE_SOURCE_DIR}/include)
	target_link_libraries(umn-proc-exit-unregistered-static PRIVATE
		${UMN_TEST_URCU_BP_ARCHIVE} ${UMN_TEST_URCU_COMMON_ARCHIVE}
		Threads::Threads ${CMAKE_DL_LIBS})
	add_test(NAME proc-exit-unregistered-static
		COMMAND umn-proc-exit-unregistered-static)
	list(APPEND umn_exit_tests proc-exit-unregistered-static)
endif()
set_tests_properties(${umn_exit_tests} PROPERTIES TIMEOUT 60
	SKIP_RETURN_CODE 77
	ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/../tsan.supp")
