"""Services behind the HTTP edge: task submission, the dispatcher that hands tasks to Prefect, the reaper that
reconciles task rows with Prefect's runs, and the per-kind validation they share. They talk to the registry and
Prefect, never to HTTP."""
