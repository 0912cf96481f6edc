# The process as primary MMU: its own runner, since the tests patch libc in
# their process (Check forks each test, so each starts unpatched).
add_executable(umn-proc-tests
	${CMAKE_CURRENT_SOURCE_DIR}/check_proc.c
	${CMAKE_CURRENT_SOURCE_DIR}/../sleepcheck.c)
target_link_libraries(umn-proc-tests PRIVATE umn_static PkgConfig::CHECK)
target_link_options(umn-proc-tests PRIVATE ${UMN_WRAP_FLAGS} -Wl,--wrap=syscall)
add_test(NAME proc COMMAND umn-proc-tests)
set_tests_properties(proc PROPERTIES TIMEOUT 300
	ENVIRONMENT "CK_TIMEOUT_MULTIPLIER=4;TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/../tsan.supp")
