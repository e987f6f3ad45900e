"""Operations endpoints and metrics: liveness, readiness, Prometheus (no models, no app)."""
