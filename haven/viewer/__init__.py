"""The dataset viewer: discover a dataset's configs and splits, convert them to Parquet under
refs/convert/parquet, and answer the datasets-server API (rows, search, filter, statistics) with DuckDB."""
