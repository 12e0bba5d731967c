fn main() {
    eprintln!("converge-node: not built yet");
    std::process::exit(2);
}
