"""Use cases: one function per thing a user asks of the service; entry points call these."""
