"""Start a Dask cluster on Slurm for ``make grade SCHEDULER=...`` and keep it up.

    python deploy/dask/slurm/start_cluster.py --jobs 3          # 3 jobs x 16 workers
    make grade SCHEDULER=tcp://<printed address>

The scheduler runs in this process (on the login node, or in a small job of its own);
the workers are Slurm jobs described by jobqueue.yaml beside this file. Ctrl-C ends the
jobs. Needs ``pip install dask-jobqueue==0.9.0`` in the course's environment.
"""
import argparse
import time
from pathlib import Path

import dask
import yaml


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1, help="Slurm jobs of workers")
    args = parser.parse_args()
    config = yaml.safe_load((Path(__file__).with_name("jobqueue.yaml")).read_text())
    dask.config.update(dask.config.config, config, priority="new")
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster()
    cluster.scale(jobs=args.jobs)
    print(cluster.job_script())
    print(f"scheduler: {cluster.scheduler_address}   (make grade SCHEDULER={cluster.scheduler_address})",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.close()


if __name__ == "__main__":
    main()
