from observatoire.cli import main

main()
