"""Runs one test module for CTest: exit 0 if it passed, 1 if anything failed, and 77 (CTest's
SKIP_RETURN_CODE) if every test in it was skipped, so a skipped module shows as skipped, not
passed. Usage: run_tests.py MODULE (a file name in this folder, without .py)."""
import sys
import unittest

SKIPPED = 77


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromName(sys.argv[1])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if not result.wasSuccessful():
        return 1
    if result.skipped and len(result.skipped) >= result.testsRun:
        # (A skip raised by setUpModule or setUpClass counts once and runs no test.)
        print("every test was skipped:", file=sys.stderr)
        for reason in sorted({why for _, why in result.skipped}):
            print(f"  {reason}", file=sys.stderr)
        return SKIPPED
    if not result.testsRun:
        print(f"{sys.argv[1]} holds no tests", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
