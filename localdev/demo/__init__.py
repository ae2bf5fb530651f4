"""Demo services that `portico dev up` starts behind the local front door."""
