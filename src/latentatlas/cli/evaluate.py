import typer

app = typer.Typer(help="Measure the latent space against baselines.", no_args_is_help=True)
