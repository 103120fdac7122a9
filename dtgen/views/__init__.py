"""What the commands show: a placed board and its verdicts as text, JSON, YAML, an SVG map and
the HTML report. Pure: each view takes the model and returns data or text; the CLI prints it and
emit renders it through the templates."""
