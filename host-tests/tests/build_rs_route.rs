//! The `build.rs` route: `pipeline::generate_module` writes the model as a
//! module that a crate `include!`s from `OUT_DIR`; that crate builds for a
//! microcontroller target.

use codegen::pipeline::generate_module;

#[test]
fn generated_module_compiles_when_included() {
    let work = host_tests::gen_check_dir().join(format!("module-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let gen = work.join("out");
    std::fs::create_dir_all(&gen).unwrap();
    let opts = host_tests::quiet_options(64);
    let arena = generate_module(None, &gen, &opts).unwrap();
    assert!(arena > 0);
    let runtime = host_tests::repo().join("runtime");
    let krate = work.join("model");
    host_tests::scratch_package(
        &krate,
        "model",
        &format!(
            "runtime = {{ package = \"fastvit-runtime\", path = \"{}\" }}",
            runtime.display()
        ),
        "src/lib.rs",
        &format!(
            "#![no_std]\ninclude!(\"{}\");\n",
            gen.join("fastvit_model.rs").display()
        ),
    );
    host_tests::cargo(
        &[
            "build",
            "--release",
            "-q",
            "--target",
            "thumbv7em-none-eabihf",
        ],
        &krate,
    );
    let _ = std::fs::remove_dir_all(&work);
}
