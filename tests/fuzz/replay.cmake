# The fuzz harness without libFuzzer (tests/fuzz/replay.c): every normal
# build replays the seed corpus and the regression inputs, and shows that
# the oracle catches each deliberate break on an input that exercises it.
# Included from tests/CMakeLists.txt.
set(UMN_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

add_executable(umn-fuzz-replay ${UMN_FUZZ_DIR}/replay.c
	${UMN_FUZZ_DIR}/fuzz_soft.c ${UMN_FUZZ_DIR}/soft_model.c
	${UMN_FUZZ_DIR}/fuzz_primary.c ${UMN_FUZZ_DIR}/fuzz_secondaries.c
	${UMN_FUZZ_DIR}/fuzz_notifiers.c ${UMN_FUZZ_DIR}/fuzz_oracle.c)
target_link_libraries(umn-fuzz-replay PRIVATE umn_static)

# Every file of corpus/ and regressions/ runs, in every build (about 0.1 s
# in release, 1.5 s under ASan or TSan): the replay fails if it ran fewer
# inputs than git tracks there (counted when cmake runs; without git, the
# files present).
execute_process(COMMAND git ls-files -- corpus regressions
	WORKING_DIRECTORY ${UMN_FUZZ_DIR} RESULT_VARIABLE git_rc
	OUTPUT_VARIABLE UMN_FUZZ_INPUTS ERROR_QUIET)
if(NOT git_rc EQUAL 0 OR UMN_FUZZ_INPUTS STREQUAL "")
	file(GLOB UMN_FUZZ_INPUTS ${UMN_FUZZ_DIR}/corpus/*
		${UMN_FUZZ_DIR}/regressions/*)
else()
	string(REGEX REPLACE "\n$" "" UMN_FUZZ_INPUTS "${UMN_FUZZ_INPUTS}")
	string(REPLACE "\n" ";" UMN_FUZZ_INPUTS "${UMN_FUZZ_INPUTS}")
endif()
list(FILTER UMN_FUZZ_INPUTS EXCLUDE REGEX "(^|/)(\\.|README)[^/]*$")
list(LENGTH UMN_FUZZ_INPUTS UMN_FUZZ_NINPUTS)
add_test(NAME fuzz-replay
	COMMAND umn-fuzz-replay --min-inputs ${UMN_FUZZ_NINPUTS}
		${UMN_FUZZ_DIR}/corpus ${UMN_FUZZ_DIR}/regressions)
set_tests_properties(fuzz-replay PROPERTIES TIMEOUT 600
	ENVIRONMENT "TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tsan.supp")

# Each input of breaks/ is named for the break it shows (mkseeds.py
# --breaks): UMN_FUZZ_BREAK plants it, and the replay must then fail with
# the oracle's verdict (status 3 and its message), not with a crash or a
# harness that could not set up.
file(GLOB UMN_FUZZ_BREAKS ${UMN_FUZZ_DIR}/breaks/*)
foreach(input ${UMN_FUZZ_BREAKS})
	get_filename_component(name ${input} NAME)
	string(REGEX MATCH "^(early-free|thp-range|retry)" mode ${name})
	add_test(NAME fuzz-break-${name}
		COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/expect-status.sh
			${UMN_ORACLE_STATUS} -m "^fuzz_soft: oracle: op [0-9]+: "
			$<TARGET_FILE:umn-fuzz-replay> --no-summary ${input})
	set_tests_properties(fuzz-break-${name} PROPERTIES TIMEOUT 300
		ENVIRONMENT "UMN_FUZZ_BREAK=${mode};TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tsan.supp")
endforeach()
