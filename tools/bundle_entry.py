"""The desktop bundle's entry point (see build.spec): the ``puppet`` command, frozen."""
import multiprocessing
import sys

if __name__ == "__main__":
    # 'puppet bench' measures in fresh processes (spawn): in a frozen app the child is
    # this same executable, which must hand over to multiprocessing here
    multiprocessing.freeze_support()
    from puppet.cli import main

    sys.exit(main())
