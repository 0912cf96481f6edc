# What the userfaultfd source registers (uffd_coverage.c): a mapping that
# replaced a watched one while an interval notifier stays on it; every
# mapping once a classic notifier hears the mm; what notifiers registered
# before the source started.  Each control run, with the source off, must
# find the calls unheard.
add_executable(umn-proc-uffd-coverage
	${CMAKE_CURRENT_SOURCE_DIR}/uffd_coverage.c)
target_link_libraries(umn-proc-uffd-coverage PRIVATE umn_static)
set(uffd_cov_tests)
foreach(test replace classic)
	foreach(src uffd all)
		add_test(NAME proc-uffd-${test}-${src}
			COMMAND umn-proc-uffd-coverage --test ${test}
				--sources ${src})
		list(APPEND uffd_cov_tests proc-uffd-${test}-${src})
	endforeach()
	add_test(NAME proc-uffd-${test}-control
		COMMAND umn-proc-uffd-coverage --test ${test} --control
			--rounds 20)
	list(APPEND uffd_cov_tests proc-uffd-${test}-control)
endforeach()
add_test(NAME proc-uffd-late COMMAND umn-proc-uffd-coverage --test late)
add_test(NAME proc-uffd-late-control
	COMMAND umn-proc-uffd-coverage --test late --control)
set_tests_properties(${uffd_cov_tests} proc-uffd-late proc-uffd-late-control
	PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
	ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/tsan.supp")
