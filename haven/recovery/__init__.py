"""Keeping a hub's data whole: backup and restore, consistency checks (fsck) and garbage collection (gc).

All three rest on one walk (`reachability`): from every ref of every repository to every commit, tree and
LFS pointer it reaches. What that walk reaches is what a hub must keep, back up and verify.
"""
