from dtgen.cli import main

main()
