fn main() {
    eprintln!("mmsim: the command line lands with the interpreter");
    std::process::exit(2);
}
