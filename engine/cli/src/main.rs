fn main() {
    println!("vmtriage: not yet implemented");
}
