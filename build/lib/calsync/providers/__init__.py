"""Provider adapters: one module per remote protocol, all behind `providers.base.Provider`.

The engine, the store and the API never import a concrete provider; they ask
`providers.registry` for one by its config name.
"""
