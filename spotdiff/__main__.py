from spotdiff.cli import app

app(prog_name="spotdiff")
