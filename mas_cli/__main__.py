from mas_cli.cli import entry

entry()
