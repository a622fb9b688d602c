#!/usr/bin/env python3
"""Runs the whole iris test suite and ends with a line "N passed, N failed".

Two kinds of tests:
  * C unit tests: every binary in BUILD/tests/, run from the repository root.
    Each prints TAP-like lines ("ok - name", "not ok - name: why",
    "ok - name # SKIP why"), see tests/unit/test.h.
  * Python end-to-end tests: tests/py/test_*.py through pytest. They drive the
    iris CLI / server / library in BUILD (environment: IRIS_BUILD, IRIS_BIN).

Usage: tests/run.py [--build DIR] [-k SUBSTRING] [--no-py] [--no-c]
A binary that crashes or times out counts as one failure with its output shown.
"""
import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_c_tests(build, pattern, timeout):
    passed = failed = skipped = 0
    tdir = os.path.join(build, "tests")
    bins = sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []
    for name in bins:
        if pattern and pattern not in name:
            continue
        path = os.path.join(tdir, name)
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        t0 = time.time()
        try:
            p = subprocess.run([path], cwd=ROOT, capture_output=True, text=True,
                               timeout=timeout, errors="replace")
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            out += f"\n{name}: timed out after {timeout}s"
            rc = -1
        seen_fail = False
        for line in out.splitlines():
            if line.startswith("not ok - "):
                failed += 1
                seen_fail = True
                print(f"FAIL {name}: {line[9:]}")
            elif line.startswith("ok - "):
                if "# SKIP" in line:
                    skipped += 1
                    print(f"skip {name}: {line[5:]}")
                else:
                    passed += 1
                    print(f"pass {name}: {line[5:]}")
        if rc != 0 and not seen_fail:
            failed += 1
            tail = "\n    ".join(out.splitlines()[-30:])
            print(f"FAIL {name}: exited with status {rc}\n    {tail}")
        elif rc != 0:
            # Show sanitizer reports or stderr that came with the failure.
            extra = [l for l in out.splitlines() if not l.startswith(("ok - ", "not ok - "))]
            if extra:
                print("    " + "\n    ".join(extra[-30:]))
        print(f"     ({name}: {time.time() - t0:.1f}s)")
    return passed, failed, skipped


def run_py_tests(build, pattern, timeout):
    pydir = os.path.join(ROOT, "tests", "py")
    names = os.listdir(pydir) if os.path.isdir(pydir) else []
    if not any(f.startswith("test_") and f.endswith(".py") for f in names):
        return 0, 0, 0
    xml = os.path.join(ROOT, build, "pytest.xml")
    env = dict(os.environ, IRIS_BUILD=os.path.join(ROOT, build),
               IRIS_BIN=os.path.join(ROOT, build, "iris"), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
           f"--junitxml={xml}", pydir]
    if pattern:
        cmd += ["-k", pattern]
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                           env=env, errors="replace")
    except subprocess.TimeoutExpired:
        print(f"FAIL pytest: timed out after {timeout}s")
        return 0, 1, 0
    if not os.path.exists(xml):
        print(p.stdout + p.stderr)
        print("FAIL pytest: produced no report")
        return 0, 1, 0
    passed = failed = skipped = 0
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skip = case.find("skipped")
        if bad is not None:
            failed += 1
            print(f"FAIL {name}: {bad.get('message', '')}\n    " +
                  "\n    ".join((bad.text or "").splitlines()[-25:]))
        elif skip is not None:
            skipped += 1
            print(f"skip {name}: {skip.get('message', '')}")
        else:
            passed += 1
            print(f"pass {name}")
    if p.returncode not in (0, 1, 5) and failed == 0:
        print(p.stdout[-4000:] + p.stderr[-4000:])
        failed += 1
    os.remove(xml)
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append",
                    help="build folder (repeatable: build and build/asan in one run)")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("--no-py", action="store_true")
    ap.add_argument("--no-c", action="store_true")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("IRIS_TEST_TIMEOUT", "900")))
    a = ap.parse_args()
    totals = [0, 0, 0]
    for build in a.build or ["build"]:
        sub = [0, 0, 0]
        t0 = time.time()
        os.environ["IRIS_SANITIZED"] = "1" if "asan" in build else ""
        if not a.no_c:
            for i, v in enumerate(run_c_tests(build, a.pattern, a.timeout)):
                sub[i] += v
        if not a.no_py:
            for i, v in enumerate(run_py_tests(build, a.pattern, a.timeout * 4)):
                sub[i] += v
        print(f"== {build}: {sub[0]} passed, {sub[1]} failed, {sub[2]} skipped, "
              f"{time.time() - t0:.0f}s")
        totals = [t + s for t, s in zip(totals, sub)]
    print(f"{totals[0]} passed, {totals[1]} failed")
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
