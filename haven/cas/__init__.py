"""The Xet CAS service: xorbs, shards, file reconstructions, global dedup. Built on haven.xet (formats)."""
