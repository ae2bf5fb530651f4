"""App Mesh to Portico: pure translation of App Mesh definitions into Portico config plus a per-field report."""
