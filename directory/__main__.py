from directory.cli import cli

cli()
