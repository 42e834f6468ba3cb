"""The shared kernel: request metadata, the service error type, id checks, URL routing,
pagination and cache helpers. It imports no Gatehouse app; every app may import it."""
