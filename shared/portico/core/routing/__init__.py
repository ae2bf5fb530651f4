"""Pure request routing: path normalisation and the compiled route table."""
