"""`python -m gwm.capture.sfm_worker JOB`: the child process of `gwm.capture.sfm.run_sfm`."""

import sys

from gwm.capture.sfm import run_sfm_job

if __name__ == "__main__":
    run_sfm_job(sys.argv[1])
