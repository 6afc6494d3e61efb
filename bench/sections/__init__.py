"""One module per kind of measurement; each section is a function of the Context that
returns its figures and the targets they meet or miss."""
