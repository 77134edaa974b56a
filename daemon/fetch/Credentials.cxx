// placeholder
namespace popstream {}
