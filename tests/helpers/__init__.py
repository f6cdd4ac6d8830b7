"""What the tests share: the policies they run, OPA and fault servers, spawns
without a hub, the CLI as a user runs it, hub checks. No tests here, and
nothing is written or started when a module is imported (the test policy
folder is assembled at session start, by conftest.py)."""
