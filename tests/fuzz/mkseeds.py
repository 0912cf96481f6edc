#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/fuzz/mkseeds.py - write the seed inputs of the fuzz harness.

    mkseeds.py OUTDIR        scenario seeds and random programs (the corpus)
    mkseeds.py --breaks DIR  the inputs that show each deliberate break

The encoding is fuzz_soft.c's: per operation a slot byte (which address
space), an opcode byte, then the operation's arguments.  Keep the OP table
below in step with the enum there.  The seeds are deterministic.
"""
import os
import random
import struct
import sys

OPS = """MMAP MMAP_ANY MMAP_1G MUNMAP MPROTECT MREMAP DONTNEED FAULT POPULATE
WRITE READ SPLIT COLLAPSE MIGRATE RECLAIM CLEAN KSM AGE FORK DESTROY PIN
UNPIN MIRROR_CREATE MIRROR_DESTROY MIRROR_FAULT MIRROR_RACE DEVTLB_CREATE
DEVTLB_DESTROY DEVTLB_ACCESS RC_CREATE RC_DESTROY RC_REGISTER RC_RELEASE
RC_LOOKUP CHECKER SUB_INSERT SUB_REMOVE SUB_READ""".split()
OP = {name: i for i, name in enumerate(OPS)}
R, W, RW = 1, 2, 3
SHARED, THP = 4, 8


def page(n):
    """Page n of the mirrors' 32 MiB window."""
    return struct.pack("<H", n & 0x1FFF)


def giga(which, off64k=0):
    """The 1 GiB block 1 or 2 after the base, in 64 KiB steps."""
    return struct.pack("<H", 0x8000 | ((which - 1) << 14) | off64k)


def pages(n):
    return struct.pack("<H", n - 1)


def thps(n):
    return struct.pack("<H", 0x8000 | (n - 1))


def gib(n):
    return struct.pack("<H", 0xC000 | (n - 1))


def b(x):
    return bytes([x & 0xFF])


def h(x):
    return struct.pack("<H", x & 0xFFFF)


class Prog:
    def __init__(self):
        self.out = bytearray()

    def op(self, name, *args, slot=0):
        self.out += b(slot) + b(OP[name])
        for a in args:
            self.out += a
        return self

    def inner(self, name, *args):
        """An operation run inside another (a race): no slot byte."""
        self.out += b(OP[name])
        for a in args:
            self.out += a
        return self


def scenarios():
    s = {}
    p = Prog()
    p.op("MMAP", page(0), pages(64), b(RW))
    p.op("WRITE", page(3), h(100), b(16)).op("READ", page(3))
    p.op("MPROTECT", page(0), pages(8), b(R)).op("WRITE", page(3), h(0), b(4))
    p.op("MPROTECT", page(0), pages(64), b(RW)).op("WRITE", page(3), h(0), b(4))
    p.op("DONTNEED", page(2), pages(4)).op("READ", page(3))
    p.op("MUNMAP", page(10), pages(10)).op("FAULT", page(12), b(1))
    s["basic"] = p
    p = Prog()
    p.op("MMAP", page(0), thps(2), b(RW | THP))
    p.op("POPULATE", page(0), b(1), h(1)).op("WRITE", page(5), h(7), b(8))
    p.op("SPLIT", page(0)).op("READ", page(5)).op("COLLAPSE", page(0))
    p.op("READ", page(5)).op("POPULATE", page(512), b(1), h(511))
    p.op("COLLAPSE", page(512)).op("WRITE", page(600), h(9), b(9))
    p.op("MIGRATE", page(512)).op("READ", page(600))
    p.op("RECLAIM", page(0)).op("READ", page(5)).op("CLEAN", page(512))
    p.op("MUNMAP", page(100), pages(1)).op("READ", page(5))
    s["thp"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(32), b(RW))
    p.op("MMAP", page(64), pages(32), b(RW | SHARED))
    p.op("WRITE", page(1), h(0), b(8)).op("WRITE", page(65), h(0), b(8))
    p.op("FAULT", page(66), b(0))
    p.op("FORK")
    p.op("WRITE", page(1), h(0), b(8), slot=1).op("READ", page(1), slot=0)
    p.op("WRITE", page(65), h(0), b(8), slot=1).op("READ", page(65), slot=0)
    p.op("WRITE", page(66), h(4), b(8), slot=0).op("READ", page(66), slot=1)
    p.op("WRITE", page(67), h(4), b(8), slot=0).op("READ", page(67), slot=1)
    p.op("FORK", slot=1).op("READ", page(65), slot=2)
    p.op("DESTROY", b(0), slot=1).op("READ", page(1), slot=0)
    s["fork"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(32), b(RW))
    p.op("FAULT", page(1), b(1)).op("FAULT", page(2), b(1))
    p.op("KSM", page(1), b(0), page(2)).op("READ", page(2))
    p.op("WRITE", page(2), h(0), b(3)).op("READ", page(1))
    p.op("FORK").op("KSM", page(1), b(1), page(1)).op("AGE", page(0), pages(32), b(0))
    p.op("AGE", page(0), pages(32), b(1)).op("AGE", page(0), pages(32), b(2))
    s["ksm"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(64), b(RW))
    p.op("WRITE", page(0), h(0), b(8))
    p.op("MREMAP", page(0), pages(64), pages(128), b(1)).op("READ", page(0))
    p.op("MMAP_ANY", page(0), pages(16), b(RW | 16))
    p.op("MREMAP", page(0), pages(64), pages(16), b(0))
    p.op("MMAP", page(200), pages(4), b(RW)).op("WRITE", page(201), h(1), b(5))
    p.op("MREMAP", page(200), pages(4), pages(600), b(1))
    p.op("MMAP_ANY", page(0), thps(1), b(RW | THP))
    s["mremap"] = p
    p = Prog()
    p.op("MMAP_1G", b(0 | (RW << 1))).op("WRITE", giga(1, 3), h(0), b(8))
    p.op("FORK").op("READ", giga(1, 3), slot=1)
    p.op("WRITE", giga(1, 5), h(0), b(8), slot=1).op("READ", giga(1, 5))
    p.op("MUNMAP", giga(1, 1), pages(1)).op("MPROTECT", giga(1), gib(1), b(R))
    p.op("MMAP_1G", b(1 | 8 | (RW << 1))).op("MUNMAP", giga(1), gib(1))
    s["huge1g"] = p
    p = Prog()
    p.op("MMAP", page(0), thps(2), b(RW | THP))
    p.op("MIRROR_CREATE", b(0)).op("MIRROR_CREATE", b(1 | 2))
    p.op("MIRROR_FAULT", b(0 | 4), page(3)).op("MIRROR_FAULT", b(1), page(700))
    p.op("MIRROR_FAULT", b(1 | 4), page(5)).op("READ", page(3))
    p.op("SPLIT", page(0)).op("MIRROR_FAULT", b(0), page(3))
    p.op("DONTNEED", page(3), pages(1)).op("MIRROR_FAULT", b(1), page(3))
    p.op("MIRROR_RACE", b(0), page(4)).inner("MIGRATE", page(4))
    p.op("MIRROR_RACE", b(1 | 4), page(6)).inner("DONTNEED", page(6), pages(1))
    p.op("MPROTECT", page(0), pages(8), b(R)).op("MIRROR_DESTROY", b(0))
    p.op("MIRROR_DESTROY", b(1))
    s["mirror"] = p
    p = Prog()
    p.op("MMAP", page(0), thps(1), b(RW | THP))
    p.op("DEVTLB_CREATE", b(8)).op("DEVTLB_ACCESS", b(1), page(9))
    p.op("DEVTLB_ACCESS", b(0), page(9)).op("READ", page(9))
    p.op("RECLAIM", page(9)).op("DEVTLB_ACCESS", b(0), page(10))
    p.op("FORK").op("DEVTLB_ACCESS", b(1), page(10)).op("READ", page(10), slot=1)
    p.op("MUNMAP", page(0), thps(1)).op("DEVTLB_DESTROY", b(0))
    s["devtlb"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(64), b(RW))
    p.op("RC_CREATE", b(0)).op("RC_REGISTER", b(1 | (3 << 2)), page(4))
    p.op("RC_LOOKUP", b(0), page(5)).op("RC_RELEASE", b(0))
    p.op("PIN", page(20), b(1)).op("MIGRATE", page(20)).op("RECLAIM", page(20))
    p.op("FORK").op("WRITE", page(20), h(0), b(4)).op("READ", page(20), slot=1)
    p.op("UNPIN", b(0)).op("DONTNEED", page(4), pages(8))
    p.op("RC_LOOKUP", b(0), page(5))
    p.op("RC_REGISTER", b(2), page(30)).inner("DONTNEED", page(30), pages(1))
    p.op("RC_DESTROY", b(0))
    s["regcache"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(64), b(RW))
    p.op("CHECKER", b(0)).op("SUB_INSERT", b(0), page(8), pages(8))
    p.op("SUB_INSERT", b(1), page(100), pages(8)).op("SUB_READ", b(0))
    p.op("FAULT", page(9), b(1)).op("DONTNEED", page(9), pages(1))
    p.op("SUB_READ", b(1)).op("CHECKER", b(1 | (2 << 1)), page(0), pages(4))
    p.op("MPROTECT", page(0), pages(16), b(R)).op("MUNMAP", page(8), pages(1))
    p.op("SUB_REMOVE", b(1)).op("CHECKER", b(0)).op("SUB_REMOVE", b(0))
    s["notifiers"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(64), b(RW)).op("CHECKER", b(0))
    p.op("MIRROR_CREATE", b(0)).op("MIRROR_CREATE", b(1))
    p.op("DEVTLB_CREATE", b(8)).op("CHECKER", b(0x80))
    p.op("MUNMAP", page(3), pages(1)).op("CHECKER", b(0x80))
    p.op("MPROTECT", page(8), pages(2), b(R))
    s["misuse"] = p
    p = Prog()
    p.op("MMAP", page(0), thps(4), b(RW | THP | SHARED))
    p.op("MIRROR_CREATE", b(1)).op("DEVTLB_CREATE", b(16)).op("RC_CREATE", b(0))
    p.op("CHECKER", b(0)).op("POPULATE", page(0), b(1), h(40))
    p.op("MIRROR_FAULT", b(1 | 4), page(7)).op("DEVTLB_ACCESS", b(1), page(8))
    p.op("RC_REGISTER", b(1), page(9)).op("FORK")
    p.op("MIRROR_CREATE", b(0), slot=1).op("MIRROR_FAULT", b(0), page(7), slot=1)
    p.op("WRITE", page(7), h(0), b(8), slot=1).op("READ", page(7), slot=0)
    p.op("DESTROY", b(1), slot=0)
    s["teardown"] = p
    return s


def random_prog(rng, nops):
    p = Prog()
    p.op("MMAP", page(0), thps(4), b(RW | (THP if rng.random() < 0.5 else 0)))
    nslots = 1

    def addr():
        if rng.random() < 0.05:
            return giga(rng.choice([1, 2]), rng.choice([0, 0, rng.randrange(16384)]))
        return page(rng.choice([rng.randrange(2048), rng.randrange(8192),
                                512 * rng.randrange(16)]))

    def length():
        r = rng.random()
        if r < 0.7:
            return pages(rng.choice([1, 2, 8, rng.randrange(1, 513)]))
        if r < 0.95:
            return thps(rng.randrange(1, 9))
        return gib(1)

    simple = ["MUNMAP", "MPROTECT", "MREMAP", "DONTNEED", "FAULT", "POPULATE",
              "WRITE", "READ", "SPLIT", "COLLAPSE", "MIGRATE", "RECLAIM",
              "CLEAN", "KSM", "AGE"]

    def args(name):
        if name in ("MMAP", "MMAP_ANY"):
            return [addr(), length(), b(rng.randrange(32))]
        if name == "MMAP_1G":
            return [b(rng.randrange(16))]
        if name in ("MUNMAP", "DONTNEED"):
            return [addr(), length()]
        if name == "MPROTECT":
            return [addr(), length(), b(rng.randrange(4))]
        if name == "MREMAP":
            return [addr(), length(), length(), b(rng.randrange(2))]
        if name == "FAULT":
            return [addr(), b(rng.randrange(2))]
        if name == "POPULATE":
            return [addr(), b(rng.randrange(2)), h(rng.randrange(512))]
        if name == "WRITE":
            return [addr(), h(rng.randrange(4096)), b(rng.randrange(64))]
        if name == "KSM":
            return [addr(), b(rng.randrange(3)), addr()]
        if name == "AGE":
            return [addr(), length(), b(rng.randrange(3))]
        return [addr()]

    for _ in range(nops):
        slot = rng.randrange(3)
        r = rng.random()
        if r < 0.6:
            name = rng.choice(simple + ["MMAP", "MMAP_ANY"])
            p.op(name, *args(name), slot=slot)
        elif r < 0.65:
            p.op("FORK", slot=slot)
        elif r < 0.68:
            p.op("DESTROY", b(rng.randrange(2)), slot=slot)
        else:
            name = rng.choice(["PIN", "UNPIN", "MIRROR_CREATE", "MIRROR_FAULT",
                               "MIRROR_RACE", "DEVTLB_CREATE", "DEVTLB_ACCESS",
                               "RC_CREATE", "RC_REGISTER", "RC_RELEASE",
                               "RC_LOOKUP", "CHECKER", "SUB_INSERT",
                               "SUB_READ", "SUB_REMOVE", "MIRROR_DESTROY",
                               "DEVTLB_DESTROY", "RC_DESTROY"])
            f = rng.randrange(256)
            if name in ("PIN",):
                p.op(name, addr(), b(f), slot=slot)
            elif name in ("UNPIN", "MIRROR_CREATE", "MIRROR_DESTROY",
                          "DEVTLB_CREATE", "DEVTLB_DESTROY", "RC_CREATE",
                          "RC_DESTROY", "RC_RELEASE", "SUB_REMOVE",
                          "SUB_READ"):
                p.op(name, b(f), slot=slot)
            elif name == "CHECKER":
                if f & 1:
                    p.op(name, b(f), addr(), length(), slot=slot)
                else:
                    p.op(name, b(f), slot=slot)
            elif name == "SUB_INSERT":
                p.op(name, b(f), addr(), length(), slot=slot)
            elif name == "MIRROR_RACE":
                inner = rng.choice(simple)
                p.op(name, b(f), page(rng.randrange(2048)), slot=slot)
                p.inner(inner, *args(inner))
            elif name == "RC_REGISTER" and f & 2:
                inner = rng.choice(simple)
                p.op(name, b(f), addr(), slot=slot)
                p.inner(inner, *args(inner))
            else:
                p.op(name, b(f), addr(), slot=slot)
    return p


def breaks():
    s = {}
    # early-free: munmap frees the frame before invalidate_range flushes
    # the device TLB that still caches it.
    p = Prog()
    p.op("MMAP", page(0), pages(16), b(RW)).op("DEVTLB_CREATE", b(8))
    p.op("DEVTLB_ACCESS", b(1), page(2)).op("MUNMAP", page(0), pages(16))
    s["early-free-munmap"] = p
    # thp-range: reclaim of a 2 MiB page invalidates only its first 4 KiB;
    # an interval mirror holding another 4 KiB piece of it keeps it.
    p = Prog()
    p.op("MMAP", page(0), thps(1), b(RW | THP)).op("MIRROR_CREATE", b(1 | 2))
    p.op("WRITE", page(0), h(0), b(8)).op("MIRROR_FAULT", b(1), page(5))
    p.op("RECLAIM", page(0))
    s["thp-range-reclaim"] = p
    # retry: a mirror installs, and a registration cache publishes, what
    # an invalidation overtook between the lookup (pin) and the install.
    p = Prog()
    p.op("MMAP", page(0), pages(16), b(RW)).op("MIRROR_CREATE", b(0))
    p.op("WRITE", page(1), h(0), b(8))
    p.op("MIRROR_RACE", b(0), page(1)).inner("DONTNEED", page(1), pages(1))
    s["retry-mirror"] = p
    p = Prog()
    p.op("MMAP", page(0), pages(16), b(RW)).op("RC_CREATE", b(0))
    p.op("WRITE", page(2), h(0), b(8))
    p.op("RC_REGISTER", b(2), page(2)).inner("DONTNEED", page(2), pages(1))
    s["retry-regcache"] = p
    return s


def write(d, name, prog):
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(prog.out))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--breaks":
        for name, prog in breaks().items():
            write(sys.argv[2], name, prog)
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    for name, prog in scenarios().items():
        write(d, "seed-" + name, prog)
    for name, prog in breaks().items():
        write(d, "seed-break-" + name, prog)
    rng = random.Random(6)
    for i in range(20):
        write(d, "seed-random-%02d" % i, random_prog(rng, rng.randrange(20, 60)))


if __name__ == "__main__":
    main()
