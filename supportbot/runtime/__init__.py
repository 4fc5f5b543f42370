"""Process runtime: embedded services and the supervisor behind `make run`."""
