"""Mirror mode: Haven as a pull-through cache of upstream hubs (issue 11).

A repository asked for in a mirrored namespace becomes a real Haven repository: its git history is fetched
from the upstream's git smart HTTP (so commit ids and trees are the upstream's), its LFS and Xet files are
fetched lazily on first download into the blob store, and it is read-only locally. See README "Mirror mode".
"""
