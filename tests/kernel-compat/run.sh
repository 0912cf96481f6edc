#!/bin/sh
# run.sh CC SRCDIR CACHEDIR LIBDIR [--break] - the notifier code of real
# Linux drivers, taken at test time from Debian's linux-source-6.12
# package, compiled unchanged against umn's headers; then test_hmm's
# dmirror run over the soft MMU under torture (test_hmm-run.c, linked with
# LIBDIR/libumn.a).
#
# The package is fetched with apt-get download into CACHEDIR (outside git,
# kept between runs); without it the run is skipped with the reason (exit
# 77, "SKIP").  From each driver file, extract.awk takes the definitions
# named in DRIVERS below (callbacks, ops tables, the functions that
# register, insert, get, put, unregister), verbatim; above them go
# kernel.h (the kernel around a driver: locks, lists, allocation) and the
# driver's own stub (its structs and helpers), never inside.  Each result
# is compared with what DRIVERS expects.
#
# --break compiles against a copy of the headers with a deliberate break
# (struct mmu_notifier loses .hlist, struct mmu_interval_notifier's
# .interval_tree is renamed, as in umn before the kernel's fields were
# spelled): the drivers that use them (hfi1, ODP, nouveau) fail where they
# are expected to compile, and the run must exit 3.
#
# The run: test_hmm's extract, with test_hmm-run.c below it, must find 0
# stale entries in 3 s (exit 0); built with each deliberate break of
# test_hmm.h (KC_BREAK=1: no mmu_interval_set_seq(); 2: no
# mmu_interval_read_retry()) it must find some (exit 3).
#
# Exit: 0 every driver as expected and the run clean; 77 skipped; 2 setup
# error; 3 a driver expected to compile did not (or one expected to fail
# compiled), or the run found stale entries, or a break was not found.
set -u
cc=$1 src=$2 cache=$3 lib=$4 mode=${5:-}
here=$src/tests/kernel-compat
pkg=linux-source-6.12
tree=$cache/$pkg

# name|file in the tree|definitions to take|expected (a driver may have
# several lines: its extracts follow each other in that order)
DRIVERS='
test_hmm|lib/test_hmm.c|dmirror_fops_open dmirror_fops_release dmirror_do_fault dmirror_do_update dmirror_interval_invalidate dmirror_min_ops dmirror_range_fault dmirror_fault dmirror_do_read dmirror_mkentry dmirror_snapshot_invalidate dmirror_mrn_ops dmirror_range_snapshot dmirror_snapshot|compiles
xen-gntdev|drivers/xen/gntdev.c|gntdev_invalidate gntdev_mmu_ops gntdev_mmap|compiles
amdgpu_hmm|drivers/gpu/drm/amd/amdgpu/amdgpu_hmm.c|amdgpu_hmm_invalidate_gfx amdgpu_hmm_gfx_ops amdgpu_hmm_invalidate_hsa amdgpu_hmm_hsa_ops amdgpu_hmm_register amdgpu_hmm_unregister|compiles
radeon_mn|drivers/gpu/drm/radeon/radeon_mn.c|radeon_mn_invalidate radeon_mn_ops radeon_mn_register radeon_mn_unregister|compiles
arm-smmu-v3-sva|drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c|arm_smmu_mm_arch_invalidate_secondary_tlbs arm_smmu_mm_release arm_smmu_mmu_notifier_free arm_smmu_mmu_notifier_ops arm_smmu_sva_notifier_synchronize arm_smmu_sva_set_dev_pasid arm_smmu_sva_domain_free arm_smmu_sva_domain_alloc|compiles
ib_umem_odp|include/rdma/ib_umem_odp.h|ib_umem_start ib_umem_end|compiles
ib_umem_odp|drivers/infiniband/core/umem_odp.c|ib_init_umem_odp ib_umem_odp_release ib_umem_odp_map_dma_and_lock|compiles
nouveau_svm|drivers/gpu/drm/nouveau/nouveau_svm.c|nouveau_svmm_invalidate nouveau_svmm_invalidate_range_start nouveau_svmm_free_notifier nouveau_mn_ops nouveau_svmm_fini nouveau_svmm_init nouveau_svm_range_invalidate nouveau_svm_mni_ops nouveau_range_fault|compiles
hfi1-mmu_rb|drivers/infiniband/hw/hfi1/mmu_rb.c|mn_opts hfi1_mmu_rb_register mmu_notifier_range_start|compiles
hfi1-user_exp_rcv|drivers/infiniband/hw/hfi1/user_exp_rcv.c|tid_mn_ops tid_cover_ops set_rcvarray_entry tid_rb_invalidate tid_cover_invalidate|compiles
sgi-gru|drivers/misc/sgi-gru/grutlbpurge.c|gru_invalidate_range_start gru_invalidate_range_end gru_alloc_notifier gru_free_notifier gru_mmuops gru_register_mmu_notifier gru_drop_mmu_notifier|compiles
kvm_main|virt/kvm/kvm_main.c|mmu_notifier_to_kvm kvm_mmu_notifier_invalidate_range_start kvm_mmu_notifier_invalidate_range_end kvm_mmu_notifier_clear_flush_young kvm_mmu_notifier_clear_young kvm_mmu_notifier_test_young kvm_mmu_notifier_release kvm_mmu_notifier_ops kvm_init_mmu_notifier|compiles
intel-svm|drivers/iommu/intel/svm.c|intel_arch_invalidate_secondary_tlbs intel_mm_release intel_mm_free_notifier intel_mmuops intel_svm_set_dev_pasid intel_svm_domain_alloc|compiles
amd-iommu-sva|drivers/iommu/amd/pasid.c|sva_arch_invalidate_secondary_tlbs sva_mn_release sva_mn iommu_sva_set_dev_pasid iommu_sva_domain_free amd_iommu_domain_alloc_sva|compiles
ocxl|drivers/misc/ocxl/link.c|arch_invalidate_secondary_tlbs ocxl_mmu_notifier_ops ocxl_link_add_pe|compiles
'

fetch() {
	missing=$(echo "$DRIVERS" | cut -d'|' -f2 | grep . |
		while read -r f; do [ -f "$tree/$f" ] || echo "$f"; done)
	[ -z "$missing" ] && return 0
	mkdir -p "$cache" || return 1
	if ! ls "$cache"/${pkg}_*.deb >/dev/null 2>&1; then
		(cd "$cache" && apt-get download $pkg >/dev/null 2>&1) ||
			return 1
	fi
	files=$(echo "$DRIVERS" | cut -d'|' -f2 | grep . | sed "s|^|$pkg/|")
	# shellcheck disable=SC2086
	dpkg-deb --fsys-tarfile "$cache"/${pkg}_*.deb |
		tar -xO ./usr/src/$pkg.tar.xz |
		tar -xJ -C "$cache" $files || return 1
}

if ! fetch; then
	echo "kernel-compat: SKIP: Debian's $pkg could not be had" \
		"(apt-get download $pkg failed; no network or no package)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inc=$src/include
if [ "$mode" = --break ]; then
	mkdir -p "$tmp/include/umn/linux"
	cp "$src"/include/umn/*.h "$tmp/include/umn/"
	sed -e '/^\tstruct hlist_node hlist;/d' \
		-e 's/^\tstruct interval_tree_node interval_tree;/\tstruct interval_tree_node umn__tree;/' \
		-e '/->interval_tree\./d' \
		"$src/include/umn/linux/mmu_notifier.h" \
		>"$tmp/include/umn/linux/mmu_notifier.h"
	[ -f "$src/include/umn/linux/hmm.h" ] &&
		cp "$src/include/umn/linux/hmm.h" "$tmp/include/umn/linux/"
	inc=$tmp/include
fi

unexpected=0
echo "$DRIVERS" | grep . >"$tmp/list"
# The extracts, each driver's in one file, below its environment.
while IFS='|' read -r name file defs expect; do
	c=$tmp/$name.c
	if [ ! -f "$c" ]; then
		echo "$name $expect" >>"$tmp/names"
		printf '#include "kernel.h"\n#include "%s.h"\n' "$name" >"$c"
	fi
	if ! awk -v names="$defs" -f "$here/extract.awk" "$tree/$file" \
		>>"$c" 2>"$tmp/$name.err"; then
		echo "$name: the extraction rule failed: $(cat "$tmp/$name.err")"
		exit 2
	fi
done <"$tmp/list"

printf '%-18s %-9s %-9s %s\n' driver expected result first-error
while read -r name expect; do
	# An API mismatch is an error, as in a kernel build with -Werror.
	if "$cc" -std=gnu11 -I"$here" -I"$inc" -Wno-unused \
		-Werror=implicit-function-declaration \
		-Werror=incompatible-pointer-types -Werror=int-conversion \
		-Werror=return-type -Werror=discarded-qualifiers \
		-c "$tmp/$name.c" -o "$tmp/$name.o" 2>"$tmp/$name.log"; then
		result=compiles
	else
		result=fails
	fi
	first=$(grep -m1 'error' "$tmp/$name.log" | sed 's/^[^ ]* //')
	printf '%-18s %-9s %-9s %s\n' "$name" "$expect" "$result" "$first"
	[ "$result" = "$expect" ] || unexpected=$((unexpected + 1))
done <"$tmp/names"
echo "kernel-compat${mode:+ $mode}: $unexpected unexpected"
[ "$unexpected" = 0 ] || exit 3
[ "$mode" = --break ] && exit 0

# test_hmm's dmirror, run: the extract, then the kernel around it.
run() { # run BREAK SECONDS WANT
	exe=$tmp/test_hmm-run$1
	printf '#include "test_hmm-run.c"\n' >"$tmp/run.c"
	# The tools' pieces it uses (the soft MMU's mix, the findings), each
	# compiled on its own: the kernel's definitions are not for them.
	for t in soft_mix findings; do
		"$cc" -std=gnu11 -g -O1 -I"$inc" -c "$src/tools/$t.c" \
			-o "$tmp/$t.o" || { echo "tools/$t.c: does not build"; exit 2; }
	done
	# shellcheck disable=SC2046
	if ! "$cc" -std=gnu11 -g -O1 -pthread -I"$here" -I"$inc" -Wno-unused \
		${1:+-DKC_BREAK=$1} -include "$tmp/test_hmm.c" "$tmp/run.c" \
		"$tmp/soft_mix.o" "$tmp/findings.o" \
		"$lib/libumn.a" $(pkg-config --libs liburcu-bp) -ldl \
		-o "$exe"; then
		echo "test_hmm-run: does not build"
		exit 2
	fi
	"$exe" --seconds "$2"
	rc=$?
	if [ "$rc" != "$3" ]; then
		echo "test_hmm-run${1:+ KC_BREAK=$1}: exit $rc, not $3"
		exit 3
	fi
}
run "" 3 0
run 1 8 3
run 2 8 3
echo "test_hmm-run: 0 stale; each deliberate break found (exit 3)"
