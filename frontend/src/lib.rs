//! The wasm entry point. `cargo leptos build` compiles this crate for `wasm32-unknown-unknown`;
//! the generated JS calls [`hydrate`] once the module is loaded, which attaches the reactive
//! system to the HTML the server already rendered. On other targets the crate is empty.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy routes need the async hydration (the console's chunk loads before it hydrates).
    leptos::mount::hydrate_lazy(app::App);
}
