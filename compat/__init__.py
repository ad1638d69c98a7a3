"""Client-compatibility matrix: end-to-end scenarios run by every client generation people still use."""
