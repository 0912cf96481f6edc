// SPDX-License-Identifier: MIT
/*
 * tests/dlopen.c PLUGIN - libumn.so loaded after start-up: this program
 * links neither umn nor liburcu; it dlopen()s a plugin that does (so both
 * come in then, their thread-local storage allocated dynamically, as
 * RDMA and MPI plugins load them) and runs a registration and a lookup
 * through it.
 */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int (*run)(void);
	void *plugin;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PLUGIN\n", argv[0]);
		return 2;
	}
	if (dlsym(RTLD_DEFAULT, "umn_mm_create")) {
		fprintf(stderr, "dlopen: umn is already loaded\n");
		return 1;
	}
	plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!plugin) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	run = (int (*)(void))dlsym(plugin, "umn_test_plugin_run");
	if (!run) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	ret = run();
	printf("dlopen: the plugin's registration and lookup: %s (%d)\n",
	       ret ? "FAILED" : "ok", ret);
	return ret ? 1 : 0;
}
