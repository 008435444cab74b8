from atlembic.cli import main

main()
