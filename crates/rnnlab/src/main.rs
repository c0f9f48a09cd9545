fn main() {
    println!("rnnlab");
}
