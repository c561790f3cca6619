"""``python -m amrkit`` (and ``torchrun -m amrkit``) run the CLI."""

from amrkit.cli import main

if __name__ == "__main__":
    main()
