"""The process: uvicorn, the APScheduler jobs, signal handling and sd_notify."""
