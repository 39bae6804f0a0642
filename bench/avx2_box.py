"""A box without VNNI (AVX2 only), stood in for on a CPU that has AVX-512 and VNNI (issue 88, design/0576).

    .venv/bin/python -m bench.avx2_box [--check-only] [-- BENCH ARGS...]

Issue 88 asks a citizen's copy to cost at most 1.0 core-s/s "on a CPU without VNNI (AVX2 only)". Such a CPU
runs the int8 model with 7-bit weights (storage/redact/cpu.py `detector_model`, design/0577; the float model
before), and every library picks its AVX2 code at run time. A model forced on an AVX-512 CPU with VNNI is not
that box: onnxruntime's MLAS there runs its AVX-512 and VNNI kernels. This runs a bench command in a child whose
every library picks what an AVX2-only CPU would:

- onnxruntime: a copy of the installed package (bench/out/avx2-box/, never the venv's) whose MLAS platform
  setup skips its AVX-512F block and its AVX-VNNI check: two conditional jumps made unconditional, found by
  their bytes (the CPUID leaf 7 test of bit 16 followed by the XCR0 test of the AVX-512 state; the leaf 7.1
  test of bit 4), refused unless each is found exactly once. MLAS then keeps the AVX2/FMA3 kernels it
  chose just before. The package's own CPUID test cannot be masked for one process on this CPU (no CPUID
  faulting), and the library has no setting for it.
- FFmpeg (PyAV's libavutil): `av_force_cpu_flags` without AVX-512 and AVX-512 ICL, from a sitecustomize
  in the same folder, before PyAV is imported.
- numpy: `NPY_DISABLE_CPU_FEATURES` without its X86_V4 and AVX-512 dispatch targets.
- x264 is capped at AVX2 on every CPU already (storage/redact/x264.py).
- edged's own reading of the CPU (storage/redact/cpu.py `flags`), from the same sitecustomize: without VNNI, so a
  tree chooses the model such a box would (the 7-bit model; before design/0577 the float model).

`--tree DIR` runs the bench command in another checkout (its own code, this stand-in), e.g. the tree an issue measured
on, for a ratio taken in the same run: `git worktree add --detach DIR REV; ln -s "$PWD/.venv" DIR/.venv`.

`--check-only` runs each model (float, int8, int8-7bit) on one of the crowd's pictures at 640x352 here and in
the child, 20 times each, and prints both times and the largest difference of their face-centre scores: a patch
that took gives the float model other low bits (other kernels) and another time; the 8-bit model saturates on
AVX2 (design/0577), and the 7-bit one should give what VNNI gives. With BENCH ARGS (default `bench.redaction --crowd --modes
faces,everything --seconds 10 --model int8-7bit`) it then runs that command in the child.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.common import command_line, environment
from storage.redact import models

OUT = Path(__file__).resolve().parent / "out" / "avx2-box"
# (name, pattern, index in the match of the jump byte to make unconditional): x86-64 bytes of onnxruntime's
# MLAS_PLATFORM constructor (onnxruntime/core/mlas/lib/platform.cpp), as 1.32.0's wheel has them.
PATCHES = (
    ("AVX-512F (CPUID 7 EBX bit 16, then XCR0 & 0xE0)",
     rb"\x41\xf7\xc2\x00\x00\x01\x00\x74.\x4c\x89\xc0\x48\xf7\xd0\xa8\xe0", 7),
    ("AVX-VNNI (CPUID 7.1 EAX bit 4)", rb"\x0f\xa2\xa8\x10\x74", 4),
)
AV_CPU_FLAG_AVX512, AV_CPU_FLAG_AVX512ICL = 0x100000, 0x200000
NUMPY_OFF = "X86_V4 AVX512_ICL AVX512_SPR"
SITE = textwrap.dedent(f"""\
    # Written by bench/avx2_box.py: FFmpeg's CPU flags without AVX-512, before PyAV loads its libavutil.
    import ctypes, glob, importlib.util, os
    _spec = importlib.util.find_spec("av")
    if _spec and _spec.submodule_search_locations:
        _libs = glob.glob(os.path.join(os.path.dirname(list(_spec.submodule_search_locations)[0]), "av.libs",
                                       "libavutil-*"))
        if _libs:
            _u = ctypes.CDLL(_libs[0])
            _u.av_force_cpu_flags(_u.av_get_cpu_flags() & ~{AV_CPU_FLAG_AVX512 | AV_CPU_FLAG_AVX512ICL})
            os.environ["EDGED_BENCH_AV_CPU_FLAGS"] = hex(_u.av_get_cpu_flags())
    try:   # the tree's own reading of the CPU, as a box without VNNI reads it
        import storage.redact.cpu as _cpu
        _flags = _cpu.flags() - {{"avx512_vnni", "avx_vnni"}}
        _cpu.flags = lambda: _flags
    except ImportError:
        pass
""")
CHECK = textwrap.dedent("""\
    import json, os, time, numpy as np, onnxruntime
    from bench.detector_int8 import _input
    from storage.redact import detect, models
    from tests.support import crowd
    x = np.ascontiguousarray(_input(next(iter(crowd.pictures(1))), (640, 352)).transpose(2, 0, 1)[None].astype(np.float32))
    out = {"ort": onnxruntime.__file__, "av_flags": os.environ.get("EDGED_BENCH_AV_CPU_FLAGS")}
    for model in models.MODELS:
        d = detect.Detector(model=model)
        heat = d.session.run(None, {detect.INPUT: x})[0]
        t0 = time.process_time()
        for _ in range(20):
            d.session.run(None, {detect.INPUT: x})
        out[model] = {"ms": (time.process_time() - t0) / 20 * 1000, "heat": heat.ravel().tolist()}
    print(json.dumps(out))
""")


def build(out: Path = OUT) -> Path:
    """The folder to put first on PYTHONPATH: a patched copy of the installed onnxruntime and the sitecustomize."""
    import onnxruntime
    src = Path(onnxruntime.__file__).parent
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out / "onnxruntime")
    lib = next((out / "onnxruntime" / "capi").glob("onnxruntime_pybind11_state*.so"))
    data = bytearray(lib.read_bytes())
    for name, pattern, at in PATCHES:
        found = [m.start() for m in re.finditer(pattern, bytes(data), re.DOTALL)]
        if len(found) != 1:
            raise SystemExit(f"avx2_box: {name}: found {len(found)} times in onnxruntime {onnxruntime.__version__} "
                             "(expected once): this bench knows 1.32.0's bytes")
        data[found[0] + at] = 0xEB  # je rel8 -> jmp rel8
    lib.write_bytes(bytes(data))
    (out / "sitecustomize.py").write_text(SITE)
    return out


def child_env(folder: Path, tree: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), str(tree or os.getcwd()), env.get("PYTHONPATH", ""))
                                        if p)
    env["NPY_DISABLE_CPU_FEATURES"] = NUMPY_OFF
    return env


def check(folder: Path) -> None:
    runs = {}
    for name, env in (("this CPU (AVX-512)", dict(os.environ)), ("AVX2 only", child_env(folder))):
        res = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True)
        runs[name] = json.loads(res.stdout.strip().splitlines()[-1])
    a, b = runs.values()
    for name, r in runs.items():
        print(f"{name}: onnxruntime from {'the copy' if str(folder) in r['ort'] else 'the venv'}, FFmpeg flags "
              f"{r['av_flags'] or 'as detected'}")
    diff = {}
    for model in models.MODELS:
        diff[model] = max(abs(x - y) for x, y in zip(a[model]["heat"], b[model]["heat"], strict=True))
        print(f"{model}: {a[model]['ms']:.1f} ms a 640x352 picture here, {b[model]['ms']:.1f} as AVX2 only "
              f"({b[model]['ms'] / a[model]['ms']:.2f}x; CPU, one thread); the largest difference of a face-centre "
              f"score between the two: {diff[model]:.2e}")
    if str(folder) not in b["ort"] or diff[models.FLOAT] == 0:   # other kernels give other low bits
        raise SystemExit("avx2_box: the child did not run the patched onnxruntime")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, bench = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog="python -m bench.avx2_box", description=__doc__.split("\n\n")[0])
    p.add_argument("--check-only", action="store_true")
    p.add_argument("--tree", type=Path, default=None, help="the checkout whose bench command is run (default: this one)")
    args = p.parse_args(own)
    print(f"command: {command_line('bench.avx2_box')}")
    print(environment())
    folder = build()
    check(folder)
    if args.check_only:
        return 0
    bench = bench or ["bench.redaction", "--crowd", "--modes", "faces,everything", "--seconds", "10", "--model", "int8-7bit"]
    tree = args.tree.resolve() if args.tree else None
    print(f"running, as an AVX2-only box{f' in {tree}' if tree else ''}: python -m {' '.join(bench)}", flush=True)
    return subprocess.run([sys.executable, "-m", *bench], env=child_env(folder, tree), cwd=tree).returncode


if __name__ == "__main__":
    sys.exit(main())
