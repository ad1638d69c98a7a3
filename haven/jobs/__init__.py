"""Background jobs: a database table is the queue, worker threads in the server processes run it."""
