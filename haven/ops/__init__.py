"""Operations: Prometheus metrics, structured request logs, request ids, health and readiness."""
