# The userfaultfd source keeps a mapping that replaced a watched one
# registered while an interval notifier stays on it (uffd_coverage.c); the
# control run, with the source off, must find it unregistered.
add_executable(umn-proc-uffd-coverage
	${CMAKE_CURRENT_SOURCE_DIR}/uffd_coverage.c)
target_link_libraries(umn-proc-uffd-coverage PRIVATE umn_static)
foreach(src uffd all)
	add_test(NAME proc-uffd-coverage-${src}
		COMMAND umn-proc-uffd-coverage --sources ${src})
endforeach()
add_test(NAME proc-uffd-coverage-control
	COMMAND umn-proc-uffd-coverage --control --rounds 20)
set_tests_properties(proc-uffd-coverage-uffd proc-uffd-coverage-all
	proc-uffd-coverage-control PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
	ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/tsan.supp")
