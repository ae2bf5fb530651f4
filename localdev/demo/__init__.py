"""Demo services that `portico dev up` starts: behind the local front door, and the mesh demo behind sidecars."""
